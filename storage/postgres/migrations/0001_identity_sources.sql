CREATE TABLE "identity_groups" (
	"source" text NOT NULL,
	"source_id" text NOT NULL,
	"name" text NOT NULL,
	"members" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "identity_groups_source_source_id_pk" PRIMARY KEY("source","source_id")
);
--> statement-breakpoint
CREATE TABLE "identity_people" (
	"source" text NOT NULL,
	"source_id" text NOT NULL,
	"email" text NOT NULL,
	"login" text,
	"name" text,
	"manager" text,
	"active" boolean NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "identity_people_source_source_id_pk" PRIMARY KEY("source","source_id")
);
--> statement-breakpoint
CREATE TABLE "identity_syncs" (
	"source" text PRIMARY KEY NOT NULL,
	"last_attempt_at" bigint,
	"last_success_at" bigint,
	"last_error" text,
	"held_at" bigint,
	"held_message" text,
	"people" integer DEFAULT 0 NOT NULL,
	"groups" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "identity_people_email" ON "identity_people" USING btree ("email");