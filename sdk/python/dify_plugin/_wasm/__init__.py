"""The component side of the SDK: WIT conversions and the exported ``tool-provider``."""
