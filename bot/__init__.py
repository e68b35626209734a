"""The Rasa assistant: training data, custom NLU components and custom actions."""
