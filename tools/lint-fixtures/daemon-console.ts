// lint-as: apps/root-daemon/src/main.ts expect: no-console
// A daemon printing instead of logging: output belongs to @tel/logging (daemons) or the CLI's output layer.
export function report(what: string): void {
  console.log(what);
}
