// Everything the bench creates outside itself (databases, roles, accounts, processes, temp
// files) registers how to remove it here, and it is removed once: at the end, on a failure,
// and on Ctrl-C, so an interrupted run leaves nothing behind on the servers.

type Undo = { what: string; run: () => Promise<void> | void };

const undos: Undo[] = [];
let running: Promise<void> | null = null;

/** Registers an undo; undos run last-registered first. */
export function onCleanup(what: string, run: Undo['run']): void {
  undos.push({ what, run });
}

export function cleanUp(): Promise<void> {
  running ??= (async () => {
    while (undos.length > 0) {
      const undo = undos.pop() as Undo;
      try {
        await undo.run();
      } catch (error) {
        process.stderr.write(`cleanup: ${undo.what} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  })();
  return running;
}

/** On SIGINT/SIGTERM: clean up, then exit with the signal's status. A second signal exits at once. */
export function cleanUpOnSignals(): void {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      process.stderr.write(`\n${signal}: removing what the bench created...\n`);
      void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
