/**
 * `make operator-manifests`: synthesizes the operator's install manifests
 * into dist/operator/ (apart from charts/main.ts's dist/ output for the stack).
 */
import { App } from 'cdk8s';
import { OperatorInstall } from './operator-install.ts';

const app = new App({ outdir: process.env.OPERATOR_DIST ?? 'dist/operator', outputFileExtension: '.yaml' });
new OperatorInstall(app, 'securevote-operator', {
  ...(process.env.OPERATOR_IMAGE ? { image: process.env.OPERATOR_IMAGE } : {}),
});
app.synth();
