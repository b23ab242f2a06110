// Topic: what the manager knows of the cluster's networks, for the root daemon's routes and DNS.
import type { Empty } from '../common.js';
import type { Unary } from './kinds.js';

export interface ClusterInfo {
  /** Pod CIDRs (from nodes' spec.podCIDRs). */
  podSubnets: string[];
  /** The service CIDR(s) (probed from the API server). */
  serviceSubnets: string[];
  /** ClusterIP of kube-dns / CoreDNS, when found. */
  dnsIp?: string;
  /** Cluster domain, e.g. "cluster.local". */
  clusterDomain: string;
}

export interface ClusterInfoContract {
  clusterInfo: Unary<Empty, ClusterInfo>;
}
