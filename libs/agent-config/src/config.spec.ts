import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { agentConfig, configHash, interceptablePorts, notInterceptable, pickServicePort, type InterceptablePort } from './config.js';
import { AGENT_FIRST_PORT } from './names.js';

const template = (spec: V1PodTemplateSpec['spec'], labels: Record<string, string> = { app: 'demo' }): V1PodTemplateSpec => ({ metadata: { labels }, spec: spec! });
type Ports = NonNullable<V1Service['spec']>['ports'];
/** `selector: null` makes a Service without selector. */
const service = (name: string, ports: Ports, selector: Record<string, string> | null = { app: 'demo' }, type?: string): V1Service => ({
  metadata: { name },
  spec: { ...(selector ? { selector } : {}), ports, ...(type ? { type } : {}) },
});

const named = template({ containers: [{ name: 'app', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }] });
const undeclared = template({ containers: [{ name: 'app', image: 'x' }] });
const twoContainers = template({ containers: [{ name: 'app', image: 'x' }, { name: 'sidecar', image: 'y' }] });

describe('interceptablePorts', () => {
  it.each<[string, V1PodTemplateSpec, V1Service[], Partial<InterceptablePort>[], string[]]>([
    ['named targetPort → the container port of that name', named, [service('demo', [{ name: 'web', port: 80, targetPort: 'http' as never }])], [{ service: 'demo', servicePort: 80, servicePortName: 'web', container: 'app', appPort: 8080, targetPortName: 'http' }], []],
    ['numeric targetPort declared by a container', named, [service('demo', [{ port: 80, targetPort: 8080 as never }])], [{ container: 'app', appPort: 8080 }], []],
    ['no targetPort: the port itself, in the only container', undeclared, [service('demo', [{ port: 9000 }])], [{ container: 'app', appPort: 9000 }], []],
    ['"8080" as a string is a number', undeclared, [service('demo', [{ port: 80, targetPort: '8080' as never }])], [{ appPort: 8080 }], []],
    ['undeclared port with two containers is ambiguous', twoContainers, [service('demo', [{ port: 80, targetPort: 8080 as never }])], [], ['no container declares port 8080 and the pod has 2 containers']],
    ['a name no container has', named, [service('demo', [{ port: 80, targetPort: 'grpc' as never }])], [], ['targetPort "grpc" names no container port of the pods']],
    ['UDP is not interceptable yet', undeclared, [service('demo', [{ port: 53, protocol: 'UDP' }])], [], ["UDP ports can't be intercepted yet (TCP only)"]],
    ['a Service selecting other pods, one without selector, an ExternalName one', named, [service('other', [{ port: 80 }], { app: 'other' }), service('manual', [{ port: 80 }], null), service('ext', [{ port: 80 }], { app: 'demo' }, 'ExternalName')], [], []],
  ])('%s', (_name, tpl, services, want, problems) => {
    const r = interceptablePorts(tpl, services);
    expect(r.ports).toEqual(want.map((w) => expect.objectContaining(w)));
    expect(r.problems.map((p) => p.message)).toEqual(problems);
  });
});

describe('notInterceptable', () => {
  const svc = [service('demo', [{ port: 80, targetPort: 'http' as never }])];
  it.each<[string, V1PodTemplateSpec, V1Service[], string | undefined]>([
    ['an interceptable workload', named, svc, undefined],
    ['hostNetwork', template({ hostNetwork: true, containers: [{ name: 'app' }] }), svc, 'host-network'],
    ['no Service', named, [], 'no-service'],
    ['a Service whose ports reach nothing', named, [service('demo', [{ port: 80, targetPort: 'nope' as never }])], 'no-ports'],
    ['a container already named traffic-agent', template({ containers: [{ name: 'traffic-agent' }] }), svc, 'container-name-taken'],
  ])('%s', (_name, tpl, services, reason) => {
    expect(notInterceptable(tpl, services)?.reason).toBe(reason);
  });

  it('says which ports failed and why', () => {
    expect(notInterceptable(named, [service('demo', [{ port: 80, targetPort: 'nope' as never }])])?.message).toBe('no Service port reaches its pods: demo:80 targetPort "nope" names no container port of the pods');
  });
});

describe('agentConfig', () => {
  const ports = interceptablePorts(
    template({ containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9090 }] }] }),
    [service('web', [{ name: 'http', port: 80, targetPort: 'http' as never }, { name: 'admin', port: 81, targetPort: 'admin' as never }]), service('web2', [{ port: 8080 }])],
  ).ports;
  const make = (p: InterceptablePort[]) => agentConfig({ workload: { kind: 'Deployment', name: 'demo', namespace: 'shop' }, image: 'r/tel2:v1', manager: { namespace: 'ambassador', port: 8082 }, ports: p });

  it('one agent port per app port, in a stable order, whatever order the ports come in', () => {
    const a = make(ports);
    const b = make([...ports].reverse());
    expect(a).toEqual(b);
    expect(configHash(a)).toBe(configHash(b));
    expect(a.ports.map((p) => [p.service, p.servicePort, p.appPort, p.agentPort])).toEqual([
      ['web', 80, 8080, AGENT_FIRST_PORT],
      ['web2', 8080, 8080, AGENT_FIRST_PORT], // the same app port: the same agent port
      ['web', 81, 9090, AGENT_FIRST_PORT + 1],
    ]);
  });

  it('a different set of ports is a different hash (the pods roll again)', () => {
    expect(configHash(make(ports))).not.toBe(configHash(make(ports.slice(0, 1))));
    expect(configHash(make(ports))).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('pickServicePort', () => {
  const ports = interceptablePorts(named, [service('demo', [{ name: 'web', port: 80, targetPort: 'http' as never }, { name: 'alt', port: 81, targetPort: 'http' as never }]), service('other', [{ port: 90, targetPort: 8080 as never }])]).ports;
  it.each<[{ service?: string; port?: number | string }, string]>([
    [{ service: 'demo', port: 80 }, 'demo:80'],
    [{ service: 'demo', port: 'alt' }, 'demo:81'],
    [{ service: 'other' }, 'other:90'],
    [{ port: 90 }, 'other:90'],
  ])('%j → %s', (want, got) => {
    const p = pickServicePort(ports, want);
    expect(typeof p === 'string' ? p : `${p.service}:${p.servicePort}`).toBe(got);
  });
  it.each<[{ service?: string; port?: number | string }, string]>([
    [{}, 'more than one Service port reaches the workload\'s pods (demo:web, demo:alt, other:90): name one with --port LOCAL:PORT or --service'],
    [{ service: 'demo' }, 'more than one Service port reaches the workload\'s pods (demo:web, demo:alt): name one with --port LOCAL:PORT'],
    [{ service: 'nope' }, "service nope has no port that reaches the workload's pods"],
    [{ service: 'demo', port: 99 }, "no Service port 99 reaches the workload's pods (ports: demo:web, demo:alt)"],
  ])('%j is refused: %s', (want, msg) => {
    expect(pickServicePort(ports, want)).toBe(msg);
  });
});
