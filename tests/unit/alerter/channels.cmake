# (channels) unit tests are added here.
