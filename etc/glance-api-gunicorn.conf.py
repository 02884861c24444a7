# gunicorn serving glance-api:
#   OS_GLANCE_CONFIG_DIR=/etc/glance gunicorn -c /etc/glance/glance-api-gunicorn.conf.py
# A broken configuration stops each worker at boot, and gunicorn exits.
wsgi_app = 'glance.wsgi.api:application'
bind = '127.0.0.1:9292'
workers = 4
# Uploads and imports stream for minutes: no worker timeout kills them.
timeout = 0
