//! The fixtures file: recorded tool answers in Dify's JSON, served by the local backend. The
//! reader lives in `dify-plugin-protocol` (built and fuzzed without the runtime); here its
//! fixtures carry the host's own [`ToolType`].

use dify_plugin_protocol::wire::fixtures as protocol;

pub use protocol::{FixtureToolType, FixturesError};

use crate::contract::ToolType;

/// One recorded answer: which call it answers and what that call streamed.
pub type Fixture = protocol::Fixture<ToolType>;

/// A set of recorded answers.
pub type Fixtures = protocol::Fixtures<ToolType>;

impl FixtureToolType for ToolType {
    fn parse(name: &str) -> Option<Self> {
        ToolType::parse(name)
    }

    fn name(self) -> &'static str {
        self.as_str()
    }
}
