// Reads a JSON array of Kubernetes objects on stdin and validates each
// custom resource with the upstream-generated model of its kind. Prints one
// line per object: "ok <kind>/<name>" or "invalid <kind>/<name>: <errors>".
// Exit 0 when all are valid, 1 otherwise.
import { ExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret";
import { SecretStore } from "@kubernetes-models/external-secrets/external-secrets.io/v1/SecretStore";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = { ExternalSecret, SecretStore, ServiceMonitor };
let input = "";
for await (const chunk of process.stdin) input += chunk;
let failed = false;
for (const obj of JSON.parse(input)) {
  const Model = models[obj.kind];
  const id = `${obj.kind}/${obj.metadata?.name}`;
  if (!Model) {
    console.log(`invalid ${id}: no upstream model for this kind`);
    failed = true;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`ok ${id}`);
  } catch (e) {
    console.log(`invalid ${id}: ${e.message}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
