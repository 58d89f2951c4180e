using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Templates;

/// <summary>Thin gRPC surface of request templates: authorise → validate → decide → append (with the audit entry) → map back.</summary>
internal sealed class TemplateService(PostgresEventStore store, Access access, TimeProvider clock, TemplateReadModel read)
    : Contracts.V1.TemplateService.TemplateServiceBase
{
    public override async Task<ListTemplatesResponse> ListTemplates(ListTemplatesRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context);
        var response = new ListTemplatesResponse();
        response.Templates.Add((await read.ListAsync(request.AllVersions, context.CancellationToken)).Select(TemplateWire.ToProto));
        await access.RecordReadAsync(context);
        return response;
    }

    public override async Task<Template> GetTemplate(GetTemplateRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context, request.TemplateId);
        var v = new Violations();
        TemplateWire.TemplateId(v, "template_id", request.TemplateId);
        if (request.Version < 0)
        {
            v.Add("version", "0 (the latest) or a published version");
        }

        v.ThrowIfAny();
        var found = await read.FindAsync(request.TemplateId, request.Version, context.CancellationToken)
            ?? throw new NotFoundException("template", request.Version == 0 ? request.TemplateId : $"{request.TemplateId} v{request.Version}");
        await access.RecordReadAsync(context, Target(found.TemplateId, found.Version));
        return TemplateWire.ToProto(found);
    }

    public override async Task<Template> PublishTemplate(PublishTemplateRequest request, ServerCallContext context)
    {
        var target = request.Template is { } t ? Target(t.TemplateId, t.Version) : null;
        var caller = await access.RequireRoleAsync(context, target, Role.NetworkAdministrator);
        var v = new Violations();
        var definition = TemplateWire.Definition(v, "template", request.Template);
        v.ThrowIfAny();

        var (state, _) = await store.DecideAsync(TemplateDecider.StreamId(definition.TemplateId), TemplateState.Initial, TemplateDecider.Evolve,
            s => TemplateDecider.Decide(new PublishTemplateVersion(definition, caller.UserId, clock.GetUtcNow()), s),
            access.Allowed(context, target), cancellationToken: context.CancellationToken);
        return TemplateWire.ToProto(state.Versions[(int)definition.Version - 1]);
    }

    private static string Target(string templateId, long version) => $"{templateId}/v{version}";
}
