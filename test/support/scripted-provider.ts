/**
 * The scripted model provider now lives in src/demo/ (the demo ships it);
 * this path stays for the tests and the harness. pi loads it with jiti.
 */
export * from "../../src/demo/scripted-provider.js";
export { default } from "../../src/demo/scripted-provider.js";
