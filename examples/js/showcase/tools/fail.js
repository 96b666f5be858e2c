import { Tool } from 'dify-plugin-wasm';

export class FailTool extends Tool {
  *invoke({ message }) {
    yield this.createTextMessage('about to fail');
    throw new RangeError(message);
  }
}
