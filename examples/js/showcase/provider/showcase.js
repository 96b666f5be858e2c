// The showcase provider: credential validation (see examples/showcase).
import { ToolProvider, ToolProviderCredentialValidationError } from 'dify-plugin-wasm';

export class ShowcaseProvider extends ToolProvider {
  validateCredentials(credentials) {
    const key = credentials.api_key;
    if (key == null || key === '') return;
    if (typeof key !== 'string' || !/^sk-[A-Za-z0-9]+$/.test(key)) {
      throw new ToolProviderCredentialValidationError('api_key must be `sk-` followed by one or more letters or digits, such as `sk-demo42`');
    }
  }
}
