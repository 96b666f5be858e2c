import { Tool } from 'dify-plugin-wasm';

export class EchoTool extends Tool {
  *invoke({ text }) {
    yield this.createTextMessage(text);
    yield this.createJsonMessage({ echo: text });
  }
}
