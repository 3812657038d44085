/** The documented webhook body (compat-notes): `{ anomaly: <name>, status: 'alert' | 'OK' }`. */
export interface AlertMessage {
  anomaly: string;
  status: 'alert' | 'OK';
}

/** POSTs one alert to the webhook; throws with a readable reason when the receiver does not take it. */
export async function postWebhook(
  fetchFn: typeof fetch,
  url: string,
  message: AlertMessage,
  timeoutMs: number,
): Promise<void> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new Error(`webhook ${url} unreachable: ${(error as Error).message}`);
  }
  await response.body?.cancel();
  if (!response.ok) throw new Error(`webhook ${url} answered ${response.status}`);
}
