/**
 * Test-only pi extension: a provider `broken/throws` whose stream function throws
 * instead of streaming an error, as a buggy or misconfigured provider does. pi 0.73
 * turns that into a failed assistant message (agent_end only, no message_end);
 * pi 0.55 crashes. $BROKEN_PROVIDER_ERROR sets the message.
 */
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";

export default function brokenProvider(pi: ExtensionAPI) {
	pi.registerProvider("broken", {
		name: "Broken (tests)",
		baseUrl: "http://broken.invalid",
		apiKey: "broken-no-key",
		api: "broken-api" as any,
		models: [
			{
				id: "throws",
				name: "A model whose provider throws",
				reasoning: false,
				input: ["text"],
				cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
				contextWindow: 200000,
				maxTokens: 8192,
			},
		],
		streamSimple: (() => {
			throw new Error(process.env.BROKEN_PROVIDER_ERROR ?? "401 Unauthorized: invalid x-api-key (the provider threw)");
		}) as any,
	});
}
