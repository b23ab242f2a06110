// The demo workload e2e tests and the main job deploy: a Deployment of the demo server (HTTP on
// 8080, UDP echo on the same port) behind a ClusterIP Service, in a namespace of its own.

export interface DemoWorkload {
  image: string;
  namespace: string;
  /** Deployment, Service and `app` label. */
  name?: string;
  replicas?: number;
  /** Also expose the UDP echo on the Service. */
  udp?: boolean;
}

/** Namespace + Deployment + Service, as YAML for `kubectl apply -f -`. */
export function demoWorkloadManifest({ image, namespace, name = 'demo', replicas = 1, udp = false }: DemoWorkload): string {
  const udpPort = udp ? '\n        - {containerPort: 8080, protocol: UDP}' : '';
  const udpServicePort = udp ? '\n  - {name: udp, port: 8080, protocol: UDP}' : '';
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${namespace}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
      - name: ${name}
        image: ${image}
        args: [serve]
        env:
        - {name: PORT, value: "8080"}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        ports:
        - {containerPort: 8080, protocol: TCP}${udpPort}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {app: ${name}}
  ports:
  - {name: http, port: 8080, protocol: TCP}${udpServicePort}
`;
}
