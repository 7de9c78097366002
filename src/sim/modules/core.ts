// The cluster before any operator: system namespaces, nodes, DNS and Network config, and
// kube-controller-manager's namespace lifecycle and garbage collection.
import { seedCore } from '../cluster.ts';
import { GarbageCollector } from '../controllers/garbage-collector.ts';
import { NamespaceController } from '../controllers/namespace-controller.ts';
import type { SimModule } from './module.ts';

export const core: SimModule = {
  name: 'core',
  summary: 'Kubernetes and OpenShift config: namespaces, Nodes, DNS/Network config, namespace controller, GC (seed 0.x)',
  seed: ({ registry, settings }) => seedCore(registry, settings),
  control: ({ registry }) => ({ controllers: [new NamespaceController(registry), new GarbageCollector(registry)] }),
};
