import { z } from 'zod';

const seconds = (fallback: number) => z.coerce.number().positive().default(fallback);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value ? value : undefined));
const optionalUrl = optionalText.pipe(z.url({ protocol: /^https?$/ }).optional());

/**
 * The environment both hosts read (Node's `process.env`, Workers' `env` bindings).
 * Every variable is documented in the README's configuration table.
 */
export const configSchema = z
  .object({
    HASTIC_PORT: z.coerce.number().int().min(0).max(65535).default(8000),
    HASTIC_DB_URL: z.string().min(1).default('file:data/hastic.db'),
    HASTIC_DB_AUTH_TOKEN: optionalText,
    HASTIC_API_KEY: optionalText,
    GRAFANA_URL: optionalUrl,
    HASTIC_MAX_HISTORY: z.coerce.number().positive().default(90),
    HASTIC_DETECT_INTERVAL: seconds(60),
    HASTIC_ALERT_ENDPOINT: optionalUrl,
    HASTIC_WEBHOOK_URL: optionalUrl,
    HASTIC_INSTANCE_NAME: z.string().default('hastic'),
    HASTIC_CORS_ORIGIN: z.string().default('*'),
    HASTIC_FETCH_TIMEOUT: seconds(30),
    HASTIC_MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_048_576),
    HASTIC_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
    HASTIC_LOG: z.enum(['json', 'silent']).default('json'),
    HASTIC_DATASOURCE_ORIGINS: z
      .string()
      .default('')
      .transform((list) => list.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin))),
  })
  .transform((env) => ({
    port: env.HASTIC_PORT,
    dbUrl: env.HASTIC_DB_URL,
    dbAuthToken: env.HASTIC_DB_AUTH_TOKEN,
    apiKey: env.HASTIC_API_KEY,
    grafanaUrl: env.GRAFANA_URL,
    maxHistoryMs: env.HASTIC_MAX_HISTORY * 86_400_000,
    detectIntervalMs: env.HASTIC_DETECT_INTERVAL * 1000,
    webhookUrl: env.HASTIC_WEBHOOK_URL ?? env.HASTIC_ALERT_ENDPOINT,
    instanceName: env.HASTIC_INSTANCE_NAME,
    corsOrigin: env.HASTIC_CORS_ORIGIN,
    fetchTimeoutMs: env.HASTIC_FETCH_TIMEOUT * 1000,
    maxBodyBytes: env.HASTIC_MAX_BODY_BYTES,
    jobAttempts: env.HASTIC_JOB_ATTEMPTS,
    log: env.HASTIC_LOG,
    /** Origins a datasource with an absolute `url` may reach directly, without Grafana. */
    datasourceOrigins: env.HASTIC_DATASOURCE_ORIGINS,
  }));

export type Config = z.output<typeof configSchema>;

/** Parses the environment; throws a `ConfigError` listing every bad variable. */
export function parseConfig(env: Record<string, unknown>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(lines);
  }
  return result.data;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}
