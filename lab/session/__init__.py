"""A lab that outlives the command: ``sctplab up`` / ``status`` / ``fail`` / ``shell`` / ``down``.

``up`` starts a lab service (:mod:`lab.session.service`) that builds the
topology, runs the lab's own association, and answers requests on a UNIX
socket in the lab's state directory (:mod:`lab.session.records`). Where this
kernel lacks SCTP or netem the service runs in a User-Mode Linux guest, and a
small host process (:mod:`lab.session.relay`) carries the requests over a
guest console line. Either way the commands talk JSON lines
(:mod:`lab.session.channel`) through :mod:`lab.session.control`.
"""
