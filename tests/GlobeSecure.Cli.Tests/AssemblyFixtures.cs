// The shared throwaway PostgreSQL cluster of this test run is stopped when the run ends (without
// this, it stayed up until the next run's stale-cluster clean-up).
[assembly: AssemblyFixture(typeof(GlobeSecure.Testing.PostgresRun))]
