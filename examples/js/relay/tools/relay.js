// Relay: invokes any tool of the workspace and re-emits its messages unchanged and in order.
// A failure of the called tool fails the relay with that same error, after the messages before it.
import { Tool } from 'dify-plugin-wasm';

export class RelayTool extends Tool {
  *invoke({ tool_type: type, provider, tool, parameters, credential_id: credentialId }) {
    const t = this.session.tool;
    if (credentialId == null && type === 'builtin') yield* t.invokeBuiltinTool(provider, tool, parameters);
    else if (credentialId == null && type === 'workflow') yield* t.invokeWorkflowTool(provider, tool, parameters);
    else if (credentialId == null && type === 'api') yield* t.invokeApiTool(provider, tool, parameters);
    else yield* t.invoke(type, provider, tool, parameters, credentialId);
  }
}
