import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/node-server';
import { anomalyBody, routeSuite, uniqueName } from './route-suite';

let server: TestServer;
beforeAll(async () => {
  // No background work: route tests look at what the API stores, not at learning.
  server = await startTestServer({}, { background: false });
});
afterAll(() => server.dispose());

routeSuite('Node', () => (path, init) => fetch(server.url + path, init));

describe('GRAFANA_URL (Node)', () => {
  let locked: TestServer;
  beforeAll(async () => {
    locked = await startTestServer({ GRAFANA_URL: 'https://grafana.example.com' }, { background: false });
  });
  afterAll(() => locked.dispose());

  it('refuses a panelUrl on another origin, so the server cannot be used as a proxy', async () => {
    const post = (panelUrl: string) =>
      fetch(`${locked.url}/anomalies`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(anomalyBody(uniqueName(), { panelUrl })),
      });
    const refused = await post('http://169.254.169.254/d/x?panelId=1');
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toContain('panelUrl');
    expect((await post('https://grafana.example.com/d/x?panelId=1')).status).toBe(200);
  });
});

describe('configuration', () => {
  it('refuses a bad environment with every problem named', async () => {
    await expect(startTestServer({ HASTIC_PORT: 'eighty', HASTIC_WEBHOOK_URL: 'not-a-url' })).rejects.toThrow(
      /HASTIC_PORT[\s\S]*HASTIC_WEBHOOK_URL/,
    );
  });
});
