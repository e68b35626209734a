"""Custom actions, one module per topic. rasa-sdk imports every submodule of this package."""
