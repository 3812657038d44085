/** A unit of background work. `generation` is the anomaly's generation when the job was enqueued. */
export interface Job {
  kind: 'learn' | 'detect';
  anomalyId: string;
  generation: number;
}

/** Where jobs go: Workers Queues on Cloudflare, the durable local queue on Node. */
export interface JobQueue {
  enqueue(job: Job): Promise<void>;
}
