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
  # IDTOKENS are signed with the key in passwords.d/sitebox (the token-signing-key Secret).
  SEC_TOKEN_ISSUER_KEY = sitebox
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
  mountPath: /etc/condor/passwords.d/sitebox
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
