//! The Lambda handler: one function for every step of every workflow.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::steps::{dispatch, StepContext};

/// Built once per container: the configuration (or why it is invalid) and the clients.
pub struct Handler {
    pub config: Result<Config, DrError>,
    pub clients: Clients,
}

impl Handler {
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
        let config = self.config.as_ref().map_err(|error| Diagnostic::from(error.clone()))?;
        let context =
            StepContext { config, clients: &self.clients, account_id: account_of(&event.context.invoked_function_arn) };
        dispatch(&context, &event.payload).await.map_err(Diagnostic::from)
    }
}

/// `arn:aws:lambda:us-east-1:123456789012:function:name` -> `123456789012`
pub fn account_of(function_arn: &str) -> Option<String> {
    function_arn
        .split(':')
        .nth(4)
        .filter(|account| account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_comes_from_the_function_arn() {
        assert_eq!(account_of("arn:aws:lambda:us-east-1:123456789012:function:s3-dr").as_deref(), Some("123456789012"));
        assert_eq!(account_of(""), None);
        assert_eq!(account_of("arn:aws:lambda:us-east-1::function:x"), None);
    }
}
