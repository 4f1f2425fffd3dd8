{{/*
The example Job that workload managers copy: one grid job with requests = limits,
a wall-time limit, no retries, scratch at /scratch, CVMFS at /cvmfs, and a
preference for nodes already running batch pods (packing whole nodes, as grid
sites on Kubernetes do, leaves other nodes free for large jobs and scale-down).
Usage: {{ include "batch.jobManifest" . | nindent 4 }}
*/}}
{{- define "batch.jobManifest" -}}
apiVersion: batch/v1
kind: Job
metadata:
  generateName: {{ include "batch.fullname" . }}-job-
  namespace: {{ include "batch.namespace" . }}
  labels:
    app.kubernetes.io/part-of: sitebox
    sitebox.io/batch: "true"
spec:
  backoffLimit: 0
  activeDeadlineSeconds: {{ .Values.job.activeDeadlineSeconds | int }}
  ttlSecondsAfterFinished: {{ .Values.job.ttlSecondsAfterFinished | int }}
  template:
    metadata:
      labels:
        app.kubernetes.io/part-of: sitebox
        sitebox.io/batch: "true"
    spec:
      restartPolicy: Never
      priorityClassName: {{ .Values.job.priorityClassName }}
      {{- with .Values.job.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        seccompProfile:
          type: RuntimeDefault
      affinity:
        podAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    sitebox.io/batch: "true"
      containers:
        - name: job
          image: {{ .Values.job.image }}
          command:
            {{- toYaml .Values.job.command | nindent 12 }}
          env:
            - name: TMPDIR
              value: /scratch
          resources:
            {{- include "batch.job.resources" . | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: scratch
              mountPath: /scratch
            {{- if .Values.cvmfs.enabled }}
            {{- include "batch.cvmfs.mount" . | nindent 12 }}
            {{- end }}
      volumes:
        - name: scratch
          emptyDir:
            sizeLimit: {{ .Values.job.scratch.sizeLimit }}
        {{- if .Values.cvmfs.enabled }}
        {{- include "batch.cvmfs.volume" . | nindent 8 }}
        {{- end }}
{{- end }}
