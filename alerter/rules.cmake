# (rules) sources are added here with target_sources(etcdmon_alerter PRIVATE ...).
