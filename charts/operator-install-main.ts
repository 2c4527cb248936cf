/**
 * `make operator-manifests`: synthesizes the operator's install manifests
 * into dist/operator/ (apart from charts/main.ts's dist/ output for the stack).
 */
import { App } from 'cdk8s';
import { OperatorInstall, OperatorMonitoring } from './operator-install.ts';

const outdir = process.env.OPERATOR_DIST ?? 'dist/operator';
const app = new App({ outdir, outputFileExtension: '.yaml' });
new OperatorInstall(app, 'securevote-operator', {
  ...(process.env.OPERATOR_IMAGE ? { image: process.env.OPERATOR_IMAGE } : {}),
});
app.synth();
// Apart: applied only where the cluster serves monitoring.coreos.com/v1 (make deploy asks first).
const monitoring = new App({ outdir: `${outdir}-monitoring`, outputFileExtension: '.yaml' });
new OperatorMonitoring(monitoring, 'securevote-operator-monitoring');
monitoring.synth();
