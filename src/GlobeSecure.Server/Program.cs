using GlobeSecure.Server;

var app = GlobeServerHost.Build(args);
await app.RunAsync();
