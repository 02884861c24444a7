# The two commands of README.rst: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA := data
PORT ?= 9292
PYTEST_ARGS ?= -n 2

.PHONY: run test venv clean genconfig genpolicy test-deps keystone tempest-venv \
	tempest ceph-bindings barbican wheelhouse

$(BIN)/.installed: requirements.txt test-requirements.txt setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

# The service alone, without the test packages: .run-venv.
RUN_VENV := .run-venv
RUN_BIN := $(RUN_VENV)/bin

$(RUN_BIN)/.installed: requirements.txt setup.cfg
	test -x $(RUN_BIN)/python || $(PYTHON) -m venv $(RUN_VENV)
	$(RUN_BIN)/pip install -q --upgrade pip
	$(RUN_BIN)/pip install -q -r requirements.txt
	$(RUN_BIN)/pip install -q --no-deps -e .
	touch $@

# Serve on 127.0.0.1:$(PORT): SQLite + file store under ./data, no Keystone.
# The configuration is written once (edit it freely); the port is given
# on every run by a second file, so PORT is honoured each time.
run: $(RUN_BIN)/.installed
	test -f $(DATA)/glance-api.conf || $(RUN_BIN)/python tools/write_config.py $(DATA) --profile run
	printf '[DEFAULT]\nbind_port = %s\n' '$(PORT)' > $(DATA)/port.conf
	$(RUN_BIN)/glance-manage --config-file $(DATA)/glance-api.conf db sync
	@echo "glance-api: http://127.0.0.1:$(PORT)  (config: $(DATA)/glance-api.conf, log: $(DATA)/glance-api.log and here)"
	$(RUN_BIN)/glance-api --config-file $(DATA)/glance-api.conf --config-file $(DATA)/port.conf

# The whole suite: unit and functional, SQLite always, PostgreSQL and
# MariaDB when reachable (required under CI=true); the conformance suite
# runs in it too (glance/tests/functional/test_tempest.py).
test: venv test-deps keystone barbican tempest-venv wheelhouse
	$(BIN)/python -m pytest $(PYTEST_ARGS) glance/tests

# Keystone for the functional tests, in a virtualenv of its own
# (.keystone-venv, reused until tools/keystone-*.txt change).
keystone:
	PYTHON=$(PYTHON) tools/keystone_venv.sh

# Barbican (the key manager of the signature verification tests), in a
# virtualenv of its own (.barbican-venv, reused until tools/barbican-*.txt
# change).
barbican:
	PYTHON=$(PYTHON) tools/barbican_venv.sh

# The wheels glance/tests/functional/test_install.py installs into a clean
# virtualenv, offline (.wheelhouse, reused until requirements.txt changes).
wheelhouse: venv
	PYTHON=$(BIN)/python tools/wheelhouse.sh

# Tempest and glance-tempest-plugin in a virtualenv of their own
# (.tempest-venv, reused until tools/tempest-*.txt change).
tempest-venv:
	PYTHON=$(PYTHON) tools/tempest_venv.sh

# The OpenStack conformance suite: Tempest's image tests and the Glance
# plugin's against glance-api behind a real Keystone, single store and
# multi-store (glance/tests/conformance/run.py).  TEMPEST_ARGS: e.g.
# --deployment single --workdir /tmp/tempest.
TEMPEST_ARGS ?=
tempest: venv keystone tempest-venv
	$(BIN)/python -m glance.tests.conformance.run $(TEMPEST_ARGS)

# System packages the tests drive for real (Debian): qemu-img for the
# image_conversion import plugin; Swift (with memcached for tempauth) for
# the swift and s3 stores (glance/tests/swift_fixture.py), and Debian's
# keystonemiddleware for its Keystone-authenticated proxy (Swift runs
# under the system python3).
SWIFT_DEBS := swift swift-proxy swift-object swift-container swift-account memcached \
	python3-keystonemiddleware
# Ceph (one monitor, one in-memory OSD) for the rbd store
# (glance/tests/ceph_fixture.py), and its Python bindings: Debian's
# rados/rbd modules are linked into the virtualenv by themselves (a .pth
# naming $(VENV)/ceph-bindings), not with the rest of dist-packages.
CEPH_DEBS := ceph-mon ceph-osd ceph-common python3-rados python3-rbd

test-deps:
	command -v qemu-img >/dev/null || \
		(apt-get update -q && apt-get install -y -q qemu-utils)
	(test -x /usr/bin/swift-proxy-server && test -x /usr/bin/swift-object-server \
		&& test -x /usr/bin/swift-container-server \
		&& test -x /usr/bin/swift-account-server && command -v memcached \
		&& /usr/bin/python3 -c 'import keystonemiddleware') >/dev/null 2>&1 || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SWIFT_DEBS))
	(test -x /usr/bin/ceph-mon && test -x /usr/bin/ceph-osd \
		&& test -x /usr/bin/ceph-authtool && test -x /usr/bin/monmaptool \
		&& test -f /usr/lib/python3/dist-packages/rados.cpython-311-x86_64-linux-gnu.so \
		&& test -f /usr/lib/python3/dist-packages/rbd.cpython-311-x86_64-linux-gnu.so) || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends $(CEPH_DEBS))
	$(MAKE) ceph-bindings

# Link Debian's rados and rbd modules (built for CPython 3.11, as our
# virtualenv) into it; see ceph_fixture.link_bindings.
ceph-bindings: venv
	$(BIN)/python -c 'from glance.tests import ceph_fixture as c; c.link_bindings()'

genconfig: venv
	$(BIN)/oslo-config-generator --config-file etc/oslo-config-generator/glance-api.conf
	$(BIN)/oslo-config-generator --config-file etc/oslo-config-generator/glance-manage.conf
	$(BIN)/oslo-config-generator --config-file etc/oslo-config-generator/glance-scrubber.conf

genpolicy: venv
	$(BIN)/oslopolicy-sample-generator --config-file etc/glance-policy-generator.conf

clean:
	rm -rf $(VENV) $(RUN_VENV) $(DATA) .keystone-venv .keystone-venv.lock .tempest-venv \
		.tempest-venv.lock .barbican-venv .barbican-venv.lock .wheelhouse
