import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'kms:metrics-request';
const ANSWER = 'kms:metrics-answer';
const TIMEOUT_MS = 5_000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsAnswer {
  type: typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

/**
 * Prometheus across workers: the worker that receives GET /metrics asks the primary,
 * which gathers every worker's registry through prom-client's AggregatorRegistry
 * (counters and histograms summed, each metric's `aggregator` otherwise) and answers
 * with the one view. Call in the primary before forking.
 */
export function answerClusterMetricsRequests() {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: MetricsRequest) => {
    if (message?.type !== REQUEST) return;
    const reply = (answer: Omit<MetricsAnswer, 'type' | 'id'>) =>
      worker.isConnected() && worker.send({ type: ANSWER, id: message.id, ...answer } satisfies MetricsAnswer);
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: Error) => reply({ error: error.message }),
    );
  });
}

let nextId = 0;
const pending = new Map<number, (answer: MetricsAnswer) => void>();

/**
 * In a worker: `registry` is what this worker adds to the cluster's view (the one
 * registry per worker prom-client aggregates). Returns the function a scrape calls.
 */
export function clusterMetricsSource(registry: Registry): () => Promise<string> {
  new AggregatorRegistry(); // answers the primary's collection requests
  AggregatorRegistry.setRegistries([registry]);
  process.on('message', (message: MetricsAnswer) => {
    if (message?.type === ANSWER) pending.get(message.id)?.(message);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = (nextId += 1);
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('cluster metrics timed out'));
      }, TIMEOUT_MS);
      pending.set(id, (answer) => {
        clearTimeout(timer);
        pending.delete(id);
        if (answer.error !== undefined) reject(new Error(answer.error));
        else resolve(answer.text ?? '');
      });
      process.send!({ type: REQUEST, id } satisfies MetricsRequest);
    });
}
