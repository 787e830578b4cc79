import { runService } from '#kit';
import { MemoryLiveBus, MemoryTimeSeriesStore } from '#telemetry';
import { startTelemetrySubgraph } from './index.ts';

runService('telemetry', async (env, logger) => {
  // Standalone, the subgraph serves its own in-memory store and bus: useful to try the API,
  // while readings from a collector need the shared backends (Graphite, Redis).
  logger.warn('telemetry runs on an in-memory store and live bus: it sees only what is written in this process');
  const store = new MemoryTimeSeriesStore();
  const bus = new MemoryLiveBus();
  const subgraph = await startTelemetrySubgraph({
    port: env.int('PORT', 4002),
    host: env.string('HOST', '127.0.0.1'),
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: { store, bus, subscriberQueueLimit: env.int('SUBSCRIBER_QUEUE_LIMIT', 10_000) },
  });
  return {
    async close() {
      await subgraph.close();
      await Promise.all([store.close(), bus.close()]);
    },
  };
});
