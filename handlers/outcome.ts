// Expected failures are values with a sentence for the person; bugs are exceptions.

export type Failure<R extends string = string> = { ok: false; reason: R; message: string };
export type Outcome<T, R extends string = string> = ({ ok: true } & T) | Failure<R>;

export function fail<R extends string>(reason: R, message: string): Failure<R> {
  return { ok: false, reason, message };
}

/** What a repeated chat delivery (a retry, a double click) gets: nothing happens twice. */
export function duplicateDelivery(): Failure<'duplicate_delivery'> {
  return fail('duplicate_delivery', 'This was already received; nothing more was done.');
}

/** Version conflicts are retried this often before the person is asked to try again. */
export const CONFLICT_RETRIES = 8;
