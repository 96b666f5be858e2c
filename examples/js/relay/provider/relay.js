import { ToolProvider } from 'dify-plugin-wasm';

export class RelayProvider extends ToolProvider {
  validateCredentials() {}
}
