# The notification channels, the dispatcher and the channel flags, against local receivers
# (tests/support HttpServer and SmtpSink on 127.0.0.1).
etcdmon_add_test(NAME alerter_channels_test
  SOURCES
    channels_test.cpp
    channel_email_test.cpp
    channel_flags_test.cpp
    dispatcher_test.cpp
    smtp_sink_test.cpp
  LIBS
    etcdmon::alerter etcdmon::logging etcdmon::test_http_server etcdmon::test_smtp_sink
    etcdmon::test_support etcdmon::test_util nlohmann_json::nlohmann_json OpenSSL::Crypto)
