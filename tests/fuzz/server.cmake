# Fuzz targets owned by server/: the remote write decoder and the HTTP
# parameter decoder (urlencoded query strings and form bodies).
fuzz_target(fuzz_remote_write LIBS server)
fuzz_target(fuzz_http_params LIBS server)
