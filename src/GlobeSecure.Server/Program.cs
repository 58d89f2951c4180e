using GlobeSecure.Server;

if (args is ["bootstrap-code" or "rebuild-projections", ..])
{
    return await GlobeServerHost.RunCommandAsync(args);
}

var app = GlobeServerHost.Build(args);
await app.RunAsync();
return 0;
