/** One structured JSON line per event, on stdout (Node) or the Workers log stream. */
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

export const jsonLogger: Logger = (event, fields = {}) => {
  console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
};

export const silentLogger: Logger = () => {};

/** The logger `HASTIC_LOG` asks for. */
export const loggerFor = (kind: 'json' | 'silent'): Logger => (kind === 'silent' ? silentLogger : jsonLogger);
