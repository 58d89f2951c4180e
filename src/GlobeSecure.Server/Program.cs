using GlobeSecure.Server;

if (args is ["bootstrap-code", ..])
{
    return await GlobeServerHost.RunCommandAsync(args);
}

var app = GlobeServerHost.Build(args);
await app.RunAsync();
return 0;
