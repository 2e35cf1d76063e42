// One exposition for several worker processes (http.workers): the supervisor collects each worker's
// metrics as JSON and sums them with prom-client's AggregatorRegistry. Each metric says how it is
// combined (its `aggregator`): counters, histograms and in-flight requests add up; values read from
// the shared metadata store (queue depths, uploads, the notification backlog) are the same in every
// worker and are taken once ('first'); readiness is the least ready worker's ('min').
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** One worker's metrics, as Registry.getMetricsAsJSON() gives them (structured-clone safe). */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export async function aggregateSnapshots(snapshots: readonly MetricsSnapshot[]): Promise<{ contentType: string; body: string }> {
  const registry = AggregatorRegistry.aggregate(snapshots as MetricsSnapshot[]);
  return { contentType: registry.contentType, body: await registry.metrics() };
}
