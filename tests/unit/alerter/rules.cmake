# (rules) unit tests are added here.
