{{/*
The condor configuration files, as ConfigMap data: 50-sitebox.conf for every
daemon, 60-execute.conf for the execute workers only.
Usage: data: {{- include "batch.condorConfig" . | nindent 2 }}
*/}}
{{- define "batch.condorConfig" -}}
{{- $worker := include "batch.execute.resources" . | fromYaml -}}
{{- $amounts := $worker.limits | default $worker.requests | default dict -}}
{{- $cpus := include "batch.quantity" (dict "value" ($amounts.cpu | default .Values.job.cpu) "key" "htcondor.workers.resources cpu") | float64 | floor | int -}}
{{- $memory := include "batch.quantity" (dict "value" ($amounts.memory | default .Values.job.memory) "key" "htcondor.workers.resources memory") | float64 -}}
50-sitebox.conf: |
  # Written by the sitebox batch chart; local changes are overwritten on upgrade.
  CONDOR_HOST = {{ include "batch.condorHost" . }}
  SEC_DEFAULT_AUTHENTICATION_METHODS = FS, IDTOKENS, PASSWORD
  {{- $key := .Values.htcondor.trust.keyName }}
  # IDTOKENS are signed with the key in passwords.d/{{ $key }} (the token-signing-key Secret);
  # a token names it as its kid, and a pool accepts it if it holds a key of that name.
  SEC_TOKEN_ISSUER_KEY = {{ $key }}
  SEC_TOKEN_FETCH_ALLOWED_SIGNING_KEYS = {{ $key }}
  {{- with .Values.htcondor.trust.domain }}
  # The issuer of the tokens this pool signs: a client presents a token only to a server of
  # the token's trust domain, so pools that share the key share this too. User identities
  # (user@UID_DOMAIN) are then the same in each; jobs still run as slot users.
  TRUST_DOMAIN = {{ . }}
  UID_DOMAIN = {{ . }}
  {{- end }}
  {{- with .Values.htcondor.flocking.to }}
  # Pools this pool's schedd may send idle jobs to.
  FLOCK_TO = {{ join ", " . }}
  {{- end }}
  {{- with .Values.htcondor.flocking.from }}
  # Schedds of other pools that may send jobs here.
  FLOCK_FROM = {{ join ", " . }}
  {{- end }}
60-execute.conf: |
  # One partitionable slot the size of the worker pod.
  NUM_CPUS = {{ max 1 $cpus }}
  MEMORY = {{ divf $memory 1048576.0 | floor | int64 }}
  EXECUTE = /scratch
  use feature : PartitionableSlot
{{- end }}

{{/*
Environment, volumes and mounts shared by every HTCondor daemon.
Usage: env: {{- include "batch.htcondor.env" . | nindent 12 }}
*/}}
{{- define "batch.htcondor.env" -}}
- name: CONDOR_HOST
  value: {{ include "batch.condorHost" . }}
- name: USE_POOL_PASSWORD
  value: "yes"
{{- end }}

{{/*
Mounts of the condor configuration and the two secrets.
Usage: volumeMounts: {{- include "batch.htcondor.mounts" . | nindent 12 }}
*/}}
{{- define "batch.htcondor.mounts" -}}
- name: condor-config
  mountPath: /etc/condor/config.d/50-sitebox.conf
  subPath: 50-sitebox.conf
  readOnly: true
- name: pool-password
  mountPath: /root/secrets
  readOnly: true
- name: signing-key
  mountPath: /etc/condor/passwords.d/{{ .Values.htcondor.trust.keyName }}
  subPath: signing_key
  readOnly: true
{{- end }}

{{/*
Volumes of the condor configuration and the two secrets.
Usage: volumes: {{- include "batch.htcondor.volumes" . | nindent 8 }}
*/}}
{{- define "batch.htcondor.volumes" -}}
- name: condor-config
  configMap:
    name: {{ include "batch.condorConfig.name" . }}
- name: pool-password
  secret:
    secretName: {{ include "batch.poolPassword.secretName" . }}
    defaultMode: 0400
- name: signing-key
  secret:
    secretName: {{ include "batch.signingKey.secretName" . }}
    defaultMode: 0400
{{- end }}

{{/*
Pod annotations that restart the daemons when their configuration changes.
Usage: annotations: {{- include "batch.htcondor.podAnnotations" . | nindent 8 }}
*/}}
{{- define "batch.htcondor.podAnnotations" -}}
checksum/condor-config: {{ include "batch.condorConfig" . | sha256sum }}
{{- with .Values.htcondor.tokenSigningKey }}
{{- /* A subPath mount never sees a changed Secret: a new key (a fleet's rotation) must
restart the daemons. A digest of a long random key tells nothing of it. */}}
checksum/signing-key: {{ . | sha256sum }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by every HTCondor pod.
Usage: {{- include "batch.htcondor.podSpec" . | nindent 6 }}
*/}}
{{- define "batch.htcondor.podSpec" -}}
automountServiceAccountToken: false
enableServiceLinks: false
priorityClassName: {{ .Values.job.priorityClassName }}
securityContext:
  seccompProfile:
    type: RuntimeDefault
{{- end }}
