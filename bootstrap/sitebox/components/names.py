"""Names the components share: namespaces, classes and claims several charts refer to."""

from __future__ import annotations

SITE_NAMESPACE = "sitebox"
SYSTEM_NAMESPACE = "sitebox-system"
BATCH_NAMESPACE = "batch"
PRIORITY_PREFIX = "sitebox"
# What marks sitebox's own objects (the release namespaces it labels, its secrets Secret),
# and the prefix of the Pod Security labels it sets on the release namespaces.
PART_OF_LABEL = "app.kubernetes.io/part-of"
POD_SECURITY_LABEL = "pod-security.kubernetes.io/"
# The CSI driver cvmfs-csi registers, and the claim on its statically provisioned automount
# volume that notebook servers (site namespace, made by site-base) and batch jobs (batch
# namespace, made by the batch chart) mount at /cvmfs.
CVMFS_DRIVER = "cvmfs.csi.cern.ch"
CVMFS_CLAIM = "cvmfs"
# REANA 0.9.4 has three shared-storage backends. `hostpath` keeps every workspace in a directory
# of the node the pod runs on, so REANA works on one node only. `cephfs` means an OpenStack
# Manila share (share and access IDs, an OpenStack secret), which site.yaml cannot describe.
# `nfs` means a ReadWriteMany claim on a StorageClass, and is right for any RWX storage; but
# the chart names that class itself ("<prefix>-shared-volume-storage-class", the prefix being
# the release and chart names cut to 13 characters) and has no key to choose another.
REANA_SHARED_CLASS = "sitebox-reana-shared-volume-storage-class"
# The monitoring component's Prometheus (chart prometheus, in the system release): its
# server's Service, named by sitebox rather than by the release, so that Grafana, the
# accounting and an admin's port-forward find it as http://prometheus.sitebox-system.svc.
PROMETHEUS_SERVICE = "prometheus"
PROMETHEUS_PORT = 80  # the chart's server.service.servicePort
PROMETHEUS_URL = f"http://{PROMETHEUS_SERVICE}.{SYSTEM_NAMESPACE}.svc"
# The Grafana data source sitebox provisions for that Prometheus; its dashboards name it by
# this uid, so a site's own data sources never shadow it.
PROMETHEUS_DATASOURCE_UID = "sitebox-prometheus"
# The label Grafana's dashboard sidecar collects ConfigMaps by, in the site namespace
# (site-base makes sitebox's dashboards as such ConfigMaps).
DASHBOARD_LABEL = "grafana_dashboard"
