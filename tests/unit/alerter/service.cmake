# (service) unit tests are added here.
