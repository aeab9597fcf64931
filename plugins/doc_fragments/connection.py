# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The option names of community.postgresql's modules, so they read the same in a play; the
    # module_defaults group is this collection's own (group/pgtviews.ops.all).
    DOCUMENTATION = r'''
options:
  login_user:
    description:
      - The role to connect as.
    type: str
    default: postgres
    aliases: [ login ]
  login_password:
    description:
      - The password of I(login_user). Never logged, printed or written to a report or state file.
    type: str
    default: ''
  login_host:
    description:
      - Host running the database. Empty means the Unix socket in I(login_unix_socket) or libpq's default.
    type: str
    default: ''
    aliases: [ host ]
  login_unix_socket:
    description:
      - Directory of the server's Unix domain socket, for local connections.
    type: str
    default: ''
    aliases: [ unix_socket ]
  login_port:
    description:
      - Database port to connect to.
    type: int
    default: 5432
    aliases: [ port ]
  login_db:
    description:
      - The database to connect to.
    type: str
    default: postgres
    aliases: [ db ]
  ssl_mode:
    description:
      - Whether or with what priority an SSL connection is negotiated. See libpq's documentation.
    type: str
    default: prefer
    choices: [ allow, disable, prefer, require, verify-ca, verify-full ]
  ca_cert:
    description:
      - File of SSL certificate authority (CA) certificates to verify the server with.
    type: str
    aliases: [ ssl_rootcert ]
  ssl_cert:
    description:
      - The client SSL certificate.
    type: path
  ssl_key:
    description:
      - The secret key of the client certificate.
    type: path
  connect_timeout:
    description:
      - Seconds to wait for a connection before failing.
    type: int
    default: 10
  connect_params:
    description:
      - Further libpq connection parameters; they take precedence over the options above.
    type: dict
    default: {}
requirements:
  - psycopg2 on the managed node
'''
