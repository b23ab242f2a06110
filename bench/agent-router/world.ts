// What both sides of bench/agent-router agree on: the intercepts on the port and the request header.

/** Personal intercepts on the agent's port, each filtering on its own value of OTHER_HEADER.name. */
export const PERSONAL = 20;
/** The header every load request carries: present, so each filter is evaluated, and matching none. */
export const OTHER_HEADER = { name: 'x-dev', value: 'nobody' };
