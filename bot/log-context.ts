// Which HTTP request a log line belongs to, wherever in the call chain it is written: the
// server enters the context when a request arrives, and the logger adds its `reqId` to
// every line written within it, including the handler's line that names the access
// request it created and the chat work that goes on after the acknowledgement.
import { AsyncLocalStorage } from 'node:async_hooks';

interface LogContext {
  reqId: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function runWithLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run(context, work);
}

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}
