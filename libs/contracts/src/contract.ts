// The shape every contract has: method name → {req, res}.

/** One RPC method: what the caller sends and what it gets back. */
export interface Method<Req, Res> {
  req: Req;
  res: Res;
}

/** A contract is an interface whose every member is a Method. */
export type Contract<C> = { [K in keyof C]: Method<any, any> };
