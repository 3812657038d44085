import { expect } from 'vitest';
import { DatasourceError } from '../../src/datasources/types';

/** Awaits `p`, which must reject with a DatasourceError, and returns that error for more checks. */
export async function failure(p: Promise<unknown>): Promise<DatasourceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DatasourceError);
    return e as DatasourceError;
  }
  throw new Error('expected a DatasourceError');
}
